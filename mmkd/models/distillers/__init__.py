from .base import (BaseDistiller, DistillerConfigError, NonFiniteLossError,
                   Pairs, StepOutputs)
from .capture import ModulePathError
from .cls_distiller import ClsDistiller
from .seg_distiller import SegDistiller

__all__ = ['BaseDistiller', 'ClsDistiller', 'DistillerConfigError',
           'ModulePathError', 'NonFiniteLossError', 'Pairs', 'SegDistiller',
           'StepOutputs']
