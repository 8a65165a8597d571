"""KD by hand; the properties all losses share are in test_losses.py."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmkd.models.losses import KDLoss, kd_loss
from mmkd.registry import MODELS


def test_value_on_one_pixel_by_hand():
    # teacher p = softmax([log 3, 0]) = [3/4, 1/4], student q = [1/2, 1/2]
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    student = torch.zeros(1, 2)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert kd_loss(student, teacher).item() == pytest.approx(expected, 1e-6)


def test_temperature_softens_and_scales_by_tau_squared():
    # at tau = 2: p = softmax([log 3, 0] / 2) = [sqrt3, 1] / (sqrt3 + 1)
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    student = torch.zeros(1, 2)
    p1 = math.sqrt(3) / (math.sqrt(3) + 1)
    kl = p1 * math.log(p1 / 0.5) + (1 - p1) * math.log((1 - p1) / 0.5)
    assert kd_loss(student, teacher, tau=2.0).item() == pytest.approx(
        4 * kl, 1e-6)


def test_pixelwise_mean_over_every_pixel_of_every_image():
    student = torch.randn(2, 5, 3, 4)
    teacher = torch.randn(2, 5, 3, 4)
    per_pixel = [
        F.kl_div(F.log_softmax(student[n, :, h, w], 0),
                 F.softmax(teacher[n, :, h, w], 0), reduction='sum')
        for n in range(2) for h in range(3) for w in range(4)
    ]
    expected = torch.stack(per_pixel).mean()
    torch.testing.assert_close(kd_loss(student, teacher), expected)


def test_invariant_to_a_constant_added_to_the_logits_of_a_pixel():
    student, teacher = torch.randn(2, 6, 4, 4), torch.randn(2, 6, 4, 4)
    shift = torch.randn(2, 1, 4, 4)
    torch.testing.assert_close(kd_loss(student + shift, teacher - shift),
                               kd_loss(student, teacher))


def test_module_applies_loss_weight_and_is_registered():
    # the scope prefix: other tests leave mmseg as the default scope
    loss = MODELS.build(dict(type='mmkd.KDLoss', tau=2.0, loss_weight=3.0))
    student, teacher = torch.randn(4, 7), torch.randn(4, 7)
    torch.testing.assert_close(loss(student, teacher),
                               3.0 * kd_loss(student, teacher, tau=2.0))


def test_rejects_non_positive_temperature():
    with pytest.raises(ValueError, match='KDLoss: tau must be a finite number > 0, got 0'):
        KDLoss(tau=0)
