from .at import ATLoss, at_loss
from .bdd import BDDLoss, bdd_loss
from .cirkd import CIRKDLoss, cirkd_pixel_loss, cirkd_region_loss
from .cwd import CWDLoss, cwd_loss
from .dist import DISTLoss, dist_loss
from .dkd import DKDLoss, dkd_loss
from .ifvd import IFVDLoss, ifvd_loss
from .kd import KDLoss, kd_loss
from .mgd import MGDLoss, mgd_loss
from .mse import MSELoss, mse_loss
from .pcd import PCDLoss, pcd_loss, pcd_reference_loss
from .skd import SKDLoss, skd_loss

__all__ = [
    'ATLoss', 'BDDLoss', 'CIRKDLoss', 'CWDLoss', 'DISTLoss', 'DKDLoss',
    'IFVDLoss', 'KDLoss', 'MGDLoss', 'MSELoss', 'PCDLoss', 'SKDLoss',
    'at_loss', 'bdd_loss', 'cirkd_pixel_loss', 'cirkd_region_loss',
    'cwd_loss', 'dist_loss', 'dkd_loss', 'ifvd_loss', 'kd_loss', 'mgd_loss',
    'mse_loss', 'pcd_loss', 'pcd_reference_loss', 'skd_loss'
]
