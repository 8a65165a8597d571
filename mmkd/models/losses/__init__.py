from .bdd import BDDLoss, bdd_loss
from .cwd import CWDLoss, cwd_loss
from .dist import DISTLoss, dist_loss
from .kd import KDLoss, kd_loss
from .mse import MSELoss, mse_loss
from .pcd import PCDLoss, pcd_loss, pcd_reference_loss

__all__ = [
    'BDDLoss', 'CWDLoss', 'DISTLoss', 'KDLoss', 'MSELoss', 'PCDLoss',
    'bdd_loss', 'cwd_loss', 'dist_loss', 'kd_loss', 'mse_loss', 'pcd_loss',
    'pcd_reference_loss'
]
