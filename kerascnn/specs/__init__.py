"""Architectures as data: layer lists, stage tables and branch widths, one module per family."""
