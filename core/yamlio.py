"""YAML is read one way: safely, with libyaml's C parser where PyYAML was built with it.

Every server start reads config.yml (more than once), nlu.yml, the category examples, the
replies and the field labels; PyYAML's pure-Python parser spent about a second of a loaded
machine's start on them, the C one a tenth of that. Both give the same plain data
(tests/core/test_yamlio.py compares them on every YAML file of the repository).
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    """The document in `text` as plain data (dicts, lists, scalars); raises yaml.YAMLError."""
    return yaml.load(text, Loader=_LOADER)
