"""Connectors: small trained modules that map a student's captured output
to the shape of the teacher's before a distill loss compares them (see
``BaseDistiller``'s ``distill_losses``). The distiller holds and trains
them; the exported student never contains them."""
import torch
from torch import nn

from mmkd.models.settings import check_int
from mmkd.registry import MODELS


@MODELS.register_module()
class ConvConnector(nn.Sequential):
    """``[N, in_channels, H, W] -> [N, out_channels, H, W]``: a 1x1
    convolution followed by batch norm (FitNets' regressor; MMRazor's
    ``ConvModuleConnector`` with its defaults). ``norm=False`` leaves the
    batch norm out and gives the convolution a bias."""

    def __init__(self, in_channels: int, out_channels: int,
                 norm: bool = True):
        in_channels = check_int('ConvConnector', 'in_channels', in_channels, 1)
        out_channels = check_int('ConvConnector', 'out_channels',
                                 out_channels, 1)
        layers = [nn.Conv2d(in_channels, out_channels, 1, bias=not norm)]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        super().__init__(*layers)
        self.in_channels = in_channels
        self.out_channels = out_channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() != 4 or features.shape[1] != self.in_channels:
            raise ValueError(
                f'ConvConnector expects [N, {self.in_channels}, H, W] '
                f'features, got {tuple(features.shape)}')
        return super().forward(features)


@MODELS.register_module()
class IdentityConnector(nn.Identity):
    """Passes the student's output unchanged: a config can name a connector
    for every pair, and one of matching shapes needs none."""
