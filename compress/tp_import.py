"""torch-pruning, imported without its side effects on the console.

On machines without a CUDA runtime, importing ``torch.utils.cpp_extension`` (which some
torch-pruning versions pull in) logs "No CUDA runtime is found" through that module's
logger. Library code prints nothing, so the import runs with that logger raised to ERROR.
Everything in ``compress`` takes torch-pruning from here: ``from compress.tp_import import tp``.
"""

from __future__ import annotations

import logging

_NOISY_LOGGER = "torch.utils.cpp_extension"

_logger = logging.getLogger(_NOISY_LOGGER)
_previous_level = _logger.level
_logger.setLevel(logging.ERROR)
try:
    import torch_pruning as tp
finally:
    _logger.setLevel(_previous_level)

__all__ = ["tp"]
