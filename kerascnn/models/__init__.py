"""One builder per family. Importing this package imports every family module in it, which runs
their `register_family` decorators: adding a family is adding a module here."""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
