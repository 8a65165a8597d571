from .base import BaseDistiller, DistillerConfigError
from .seg_distiller import SegDistiller

__all__ = ['BaseDistiller', 'DistillerConfigError', 'SegDistiller']
