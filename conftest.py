"""Root conftest: doctest collection of topoeval/ skips modules whose optional extra is missing."""

import importlib.util

collect_ignore = []
for module, extra_file in [
    ("torch", "topoeval/torch.py"),
    ("matplotlib", "topoeval/plotting.py"),
    ("matplotlib", "topoeval/report.py"),
]:
    if importlib.util.find_spec(module) is None:
        collect_ignore.append(extra_file)
