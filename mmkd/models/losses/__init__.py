from .kd import KDLoss, kd_loss

__all__ = ['KDLoss', 'kd_loss']
