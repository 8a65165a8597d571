"""Connectors: small trained modules that map a student's captured output
to the shape of the teacher's before a distill loss compares them (see
``BaseDistiller``'s ``distill_losses``). The distiller holds and trains
them; the exported student never contains them. A loss's
``teacher_connector`` is a connector without parameters (a reshape) that
the teacher's output goes through, without grad."""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from mmkd.models.settings import SettingError, check_int
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


def token_grid(num_tokens: int, input_size: Sequence[int]) -> Tuple[int, int]:
    """The ``(h, w)`` grid of ``num_tokens`` patch tokens of an image of
    ``input_size`` ``(H, W)``: the first stride ``s`` (1 to 64) with
    ``ceil(H/s) * ceil(W/s)`` or ``floor(H/s) * floor(W/s)`` equal to
    ``num_tokens``. Patch embeddings that pad (MiT, Swin) give the ceiling,
    those that do not (ViT) the floor."""
    height, width = (int(size) for size in input_size)
    for stride in range(1, 65):
        for rounding in (math.ceil, math.floor):
            grid = rounding(height / stride), rounding(width / stride)
            if grid[0] * grid[1] == num_tokens:
                return grid
    raise ValueError(
        f'{num_tokens} tokens are no grid of patches of a {height}x{width} '
        'input at any stride from 1 to 64 (class or register tokens? give '
        'TokensToMapConnector num_extra_tokens)')


@MODELS.register_module()
class TokensToMapConnector(nn.Module):
    """``[N, L, C] -> [N, C, h, w]``: a transformer's token sequence laid
    out as the map of its patches, row by row (MMSegmentation's
    ``nlc_to_nchw``), so that map losses and CNN partners can use it.

    ``(h, w)`` comes from the input images' size ``(H, W)``, which the
    distiller passes (:func:`token_grid`). ``num_extra_tokens`` leading
    tokens (a class token) are dropped first. With ``in_channels`` and
    ``out_channels`` a :class:`ConvConnector` follows (a trained student
    connector); without, the connector has no parameters and can also be
    given as a loss's ``teacher_connector``, for a transformer teacher.
    """

    #: the distiller passes ``input_size``, the batch's ``(H, W)``
    needs_input_size = True

    def __init__(self, num_extra_tokens: int = 0,
                 in_channels: Optional[int] = None,
                 out_channels: Optional[int] = None, norm: bool = True):
        super().__init__()
        self.num_extra_tokens = check_int(
            'TokensToMapConnector', 'num_extra_tokens', num_extra_tokens, 0)
        if (in_channels is None) != (out_channels is None):
            raise SettingError(
                'TokensToMapConnector takes in_channels and out_channels '
                f'together (a 1x1 convolution after the reshape), got '
                f'in_channels={in_channels!r}, out_channels={out_channels!r}')
        self.conv = None if in_channels is None else ConvConnector(
            in_channels, out_channels, norm)

    def forward(self, tokens: torch.Tensor,
                input_size: Sequence[int]) -> torch.Tensor:
        if tokens.dim() != 3:
            raise ValueError(
                'TokensToMapConnector expects [N, L, C] tokens, got '
                f'{tuple(tokens.shape)}')
        tokens = tokens[:, self.num_extra_tokens:]
        height, width = token_grid(tokens.shape[1], input_size)
        features = tokens.transpose(1, 2).reshape(
            tokens.shape[0], tokens.shape[2], height, width)
        return features if self.conv is None else self.conv(features)
