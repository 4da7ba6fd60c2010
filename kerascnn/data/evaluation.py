"""Evaluation crops: center crop and the 10-crop test-time average (filled in next)."""
