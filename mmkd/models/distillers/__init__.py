from .base import BaseDistiller, DistillerConfigError
from .cls_distiller import ClsDistiller
from .seg_distiller import SegDistiller

__all__ = ['BaseDistiller', 'ClsDistiller', 'DistillerConfigError',
           'SegDistiller']
