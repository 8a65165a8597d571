import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_zero_when_student_equals_teacher_and_positive_otherwise():
    logits = torch.randn(2, 19, 8, 8)
    assert kd_loss(logits, logits.clone()).item() == pytest.approx(0, abs=1e-6)
    assert kd_loss(logits + torch.randn_like(logits), logits).item() > 0


def test_invariant_to_a_constant_added_to_the_logits_of_a_pixel():
    student, teacher = torch.randn(2, 6, 4, 4), torch.randn(2, 6, 4, 4)
    shift = torch.randn(2, 1, 4, 4)
    torch.testing.assert_close(kd_loss(student + shift, teacher - shift),
                               kd_loss(student, teacher))


def test_gradcheck_float64():
    student = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda s: kd_loss(s, teacher, tau=1.5), (student, ))


def test_module_applies_loss_weight_and_is_registered():
    loss = MODELS.build(dict(type='KDLoss', tau=2.0, loss_weight=3.0))
    student, teacher = torch.randn(4, 7), torch.randn(4, 7)
    torch.testing.assert_close(loss(student, teacher),
                               3.0 * kd_loss(student, teacher, tau=2.0))


@settings(max_examples=30, deadline=None)
@given(scale=st.floats(1.0, 1e4), tau=st.floats(0.1, 10.0),
       seed=st.integers(0, 2**16))
def test_finite_value_and_gradient_for_extreme_logits(scale, tau, seed):
    generator = torch.Generator().manual_seed(seed)
    student = (torch.randn(2, 19, 4, 4, generator=generator) *
               scale).requires_grad_()
    teacher = torch.randn(2, 19, 4, 4, generator=generator) * scale
    value = KDLoss(tau=tau)(student, teacher)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(student.grad).all()


def test_half_precision_inputs_are_computed_in_float32():
    student, teacher = torch.randn(2, 19, 4, 4), torch.randn(2, 19, 4, 4)
    value = kd_loss(student.half(), teacher.half())
    assert value.dtype == torch.float32
    torch.testing.assert_close(
        value, kd_loss(student.half().float(), teacher.half().float()))
    big = torch.full((1, 3, 2, 2), 6e4, dtype=torch.half)
    assert torch.isfinite(kd_loss(big, -big))


def test_float32_under_autocast():
    student, teacher = torch.randn(2, 19, 4, 4), torch.randn(2, 19, 4, 4)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = kd_loss(student, teacher)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, kd_loss(student, teacher))


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r'\(2, 19, 4, 4\).*\(2, 18, 4, 4\)'):
        kd_loss(torch.randn(2, 19, 4, 4), torch.randn(2, 18, 4, 4))
    with pytest.raises(ValueError, match=r'\[N, C\] or \[N, C, H, W\]'):
        kd_loss(torch.randn(2, 19, 4), torch.randn(2, 19, 4))


def test_rejects_non_positive_temperature():
    with pytest.raises(ValueError, match='tau must be positive'):
        KDLoss(tau=0)
