"""Properties every distill loss has, then each method's own."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from mmengine.logging import MessageHub

from mmkd.models.losses import (BDDLoss, CWDLoss, DISTLoss, KDLoss, MSELoss,
                                PCDLoss, bdd_loss, cwd_loss, dist_loss,
                                kd_loss, mse_loss, pcd_loss)
from mmkd.models.losses.pcd import group_layout, stage_sequence
from mmkd.models.losses.divergence import divergences
from mmkd.registry import MODELS

LOSSES = {
    'KD': lambda: KDLoss(tau=2.0, loss_weight=1.5),
    'BDD': lambda: BDDLoss(tau_forward=2.0, tau_reverse=3.0,
                           forward_weight=1.0, reverse_weight=0.5),
    'DIST': lambda: DISTLoss(beta=1.0, gamma=2.0, tau=1.5),
    'BDD-spatial': lambda: BDDLoss(tau_forward=2.0, tau_reverse=3.0,
                                   reverse_weight=0.5, distribution='spatial'),
    'CWD': lambda: CWDLoss(tau=2.0, loss_weight=3.0),
    'PCD': lambda: PCDLoss(num_stages=3, tau=2.0),
}
ALL = pytest.mark.parametrize('name', list(LOSSES))


def logits(*shape, seed=0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(
        dtype)


# ---- every loss --------------------------------------------------------


@ALL
def test_registered_under_its_name(name):
    assert MODELS.get(f'{name.split("-")[0]}Loss') is type(LOSSES[name]())


@ALL
def test_zero_when_student_equals_teacher_and_positive_otherwise(name):
    loss = LOSSES[name]()
    teacher = logits(2, 19, 6, 6)
    # float32 rounding: DIST is 1 - a correlation of ~1
    assert loss(teacher.clone(), teacher).item() == pytest.approx(0, abs=1e-5)
    assert loss(logits(2, 19, 6, 6, seed=1), teacher).item() > 1e-3


@pytest.mark.parametrize('name', ['KD', 'BDD', 'BDD-spatial', 'DIST', 'CWD'])
def test_gradcheck_float64(name):
    # PCD's lambda is detached by design: see test_pcd_gradient
    loss = LOSSES[name]()
    student = logits(2, 5, 3, 3, dtype=torch.float64).requires_grad_()
    teacher = logits(2, 5, 3, 3, seed=1, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda s: loss(s, teacher), (student, ))


@ALL
@settings(max_examples=15, deadline=None)
@given(scale=st.floats(1.0, 1e4), seed=st.integers(0, 2**16))
def test_finite_value_and_gradient_for_extreme_logits(name, scale, seed):
    loss = LOSSES[name]()
    student = (logits(2, 19, 4, 4, seed=seed) * scale).requires_grad_()
    teacher = logits(2, 19, 4, 4, seed=seed + 1) * scale
    value = loss(student, teacher)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(student.grad).all()


def loss_at(name, tau, num_classes):
    """``name``'s loss at temperature ``tau``, for ``num_classes``."""
    return {
        'KD': lambda: KDLoss(tau=tau),
        'BDD': lambda: BDDLoss(tau_forward=tau, tau_reverse=2 * tau,
                               reverse_weight=0.5),
        'BDD-spatial': lambda: BDDLoss(tau_forward=tau, tau_reverse=2 * tau,
                                       reverse_weight=0.5,
                                       distribution='spatial'),
        'DIST': lambda: DISTLoss(tau=tau),
        'CWD': lambda: CWDLoss(tau=tau),
        'PCD': lambda: PCDLoss(num_stages=min(3, num_classes), tau=tau),
    }[name]()


@ALL
@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 3), num_classes=st.integers(2, 21),
       height=st.integers(1, 5), width=st.integers(1, 5),
       classification=st.booleans(), tau=st.floats(0.05, 20.0),
       scale=st.floats(0.0, 3e4), half=st.booleans(),
       seed=st.integers(0, 2**16))
def test_fuzz_shapes_temperatures_and_precisions(
        name, batch, num_classes, height, width, classification, tau, scale,
        half, seed):
    """Finite values and gradients for any shape, temperature and logit
    range, in float32 and float16 (logits up to float16's largest)."""
    if name in ('CWD', 'BDD-spatial'):
        classification = False  # channel-wise: it needs spatial maps
    shape = (batch, num_classes) if classification else (
        batch, num_classes, height, width)
    loss = loss_at(name, tau, num_classes)
    dtype = torch.float16 if half else torch.float32
    student = (logits(*shape, seed=seed) * scale).clamp(-6e4, 6e4).to(dtype)
    teacher = (logits(*shape, seed=seed + 1) * scale).clamp(-6e4, 6e4).to(
        dtype)
    student.requires_grad_()
    value = loss(student, teacher)
    value.backward()
    assert torch.isfinite(value) and value.item() >= -1e-4
    assert torch.isfinite(student.grad).all()


@ALL
@settings(max_examples=10, deadline=None)
@given(rank=st.sampled_from([1, 3, 5]), size=st.integers(1, 4))
def test_logits_of_other_ranks_are_refused(name, rank, size):
    loss = LOSSES[name]()
    bad = torch.zeros((size, ) * rank)
    with pytest.raises(ValueError, match=r'must be \[N, C\] or \[N, C, H, W\]'):
        loss(bad, bad)


@ALL
def test_half_precision_and_autocast_compute_in_float32(name):
    loss = LOSSES[name]()
    student = logits(2, 19, 4, 4).half()
    teacher = logits(2, 19, 4, 4, seed=1).half()
    value = loss(student, teacher)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, loss(student.float(), teacher.float()))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        autocast_value = loss(student.float(), teacher.float())
    assert autocast_value.dtype == torch.float32
    torch.testing.assert_close(autocast_value, value)
    big = torch.full((1, 19, 2, 2), 6e4, dtype=torch.half)
    big[:, 0] = -6e4
    assert torch.isfinite(loss(big, -big))


@ALL
def test_shape_errors(name):
    loss = LOSSES[name]()
    with pytest.raises(ValueError, match='differ in shape'):
        loss(logits(2, 19, 4, 4), logits(2, 18, 4, 4))
    with pytest.raises(ValueError, match='valid_mask must be a bool tensor'):
        loss(logits(2, 19, 4, 4), logits(2, 19, 4, 4),
             valid_mask=torch.ones(2, 4, 4))


@ALL
def test_an_all_true_mask_changes_nothing(name):
    loss = LOSSES[name]()
    student, teacher = logits(2, 19, 4, 4), logits(2, 19, 4, 4, seed=1)
    torch.testing.assert_close(
        loss(student, teacher, valid_mask=torch.ones(2, 4, 4, dtype=bool)),
        loss(student, teacher))


@pytest.mark.parametrize('name', ['KD', 'BDD', 'DIST', 'PCD'])
def test_masked_pixels_do_not_count(name):
    """Pixel-wise losses treat pixels as samples: the masked loss is the
    loss on the valid pixels alone, as [P, C] rows."""
    loss = LOSSES[name]()
    student, teacher = logits(2, 19, 4, 4), logits(2, 19, 4, 4, seed=1)
    mask = torch.rand(2, 4, 4, generator=torch.Generator().manual_seed(0)) > 0.4

    def rows(x):
        return x.permute(0, 2, 3, 1)[mask]

    torch.testing.assert_close(loss(student, teacher, valid_mask=mask),
                               loss(rows(student), rows(teacher)))


# ---- the shared divergence with its written-out gradient -------------------


def autograd_divergences(student, teacher, dim, forward_weight,
                         reverse_weight, cosine_weighted):
    log_q, log_p = F.log_softmax(student, dim), F.log_softmax(teacher, dim)
    p, q = log_p.exp(), log_q.exp()
    value = (forward_weight * (p * (log_p - log_q)).sum(dim) +
             reverse_weight * (q * (log_q - log_p)).sum(dim))
    if cosine_weighted:
        value = value * (1 - F.cosine_similarity(p, q, dim=dim)).detach()
    return value


@pytest.mark.parametrize('weights', [(1.0, 0.0), (0.0, 1.0), (0.7, 1.3)])
@pytest.mark.parametrize('cosine_weighted', [False, True])
@pytest.mark.parametrize('dim', [1, 2])
def test_divergences_value_and_gradients_of_both_inputs(
        weights, cosine_weighted, dim):
    student = logits(2, 5, 3, 4, dtype=torch.float64).requires_grad_()
    teacher = logits(2, 5, 3, 4, seed=1, dtype=torch.float64).requires_grad_()
    outputs = []
    for function in (divergences, autograd_divergences):
        value = function(student, teacher, dim, *weights, cosine_weighted)
        upstream = logits(*value.shape, seed=2, dtype=torch.float64)
        gradients = torch.autograd.grad((value * upstream).sum(),
                                        (student, teacher))
        outputs.append((value, *gradients))
    for ours, reference in zip(*outputs):
        torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-12)
    if not cosine_weighted:  # with the cosine held, finite differences differ
        assert torch.autograd.gradcheck(
            lambda s, t: divergences(s, t, dim, *weights), (student, teacher))


# ---- KD, BDD --------------------------------------------------------------

P_ONE_PIXEL = torch.tensor([[math.log(3.0), 0.0]])  # softmax: [3/4, 1/4]
Q_ONE_PIXEL = torch.zeros(1, 2)  # softmax: [1/2, 1/2]


def test_bdd_by_hand_on_one_pixel():
    forward = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    reverse = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    value = bdd_loss(Q_ONE_PIXEL, P_ONE_PIXEL, forward_weight=2.0,
                     reverse_weight=3.0)
    assert value.item() == pytest.approx(2 * forward + 3 * reverse, 1e-6)


@pytest.mark.parametrize('tau_reverse', [1.0, 4.0])
def test_bdd_without_reverse_term_is_kd(tau_reverse):
    student, teacher = logits(2, 19, 5, 5), logits(2, 19, 5, 5, seed=1)
    bdd = BDDLoss(tau_forward=2.0, tau_reverse=tau_reverse, reverse_weight=0,
                  loss_weight=3.0)
    torch.testing.assert_close(bdd(student, teacher),
                               KDLoss(tau=2.0, loss_weight=3.0)(student, teacher))


def test_bdd_temperatures_apply_to_their_own_terms():
    student, teacher = logits(4, 7), logits(4, 7, seed=1)

    def kl(p_logits, q_logits, tau):  # KL(softmax(p/tau) || softmax(q/tau))
        p = F.softmax(p_logits / tau, 1)
        return (p * (p.log() - F.log_softmax(q_logits / tau, 1))).sum(1).mean()

    expected = (0.7 * 4 * kl(teacher, student, 2.0) +
                0.3 * 9 * kl(student, teacher, 3.0))
    torch.testing.assert_close(
        bdd_loss(student, teacher, tau_forward=2.0, tau_reverse=3.0,
                 forward_weight=0.7, reverse_weight=0.3), expected)


def test_bdd_pushes_down_what_the_teacher_deems_impossible_harder_than_kd():
    # the teacher gives class 2 a probability of 1e-9; the student 0.1
    teacher = torch.tensor([[10.0, 0.0, -10.0]])
    student = torch.tensor([[3.0, 0.0, 1.0]], requires_grad=True)
    kd_loss(student, teacher).backward()
    kd_push = student.grad[0, 2].item()
    student.grad = None
    bdd_loss(student, teacher, forward_weight=1.0, reverse_weight=1.0).backward()
    assert student.grad[0, 2].item() > kd_push > 0


def loop_spatial_bdd(student, teacher, tau_forward, tau_reverse,
                     forward_weight, reverse_weight, valid_mask=None):
    """BDD's channel-wise form written as the published reading states
    it, one image and channel at a time: softmax over the (valid)
    positions, the two KLs summed over them, the mean over channels of
    the images that have a valid position."""
    values = []
    for n in range(student.shape[0]):
        keep = torch.ones(student.shape[2:], dtype=torch.bool) \
            if valid_mask is None else valid_mask[n]
        if not keep.any():
            continue
        for c in range(student.shape[1]):
            s, t = student[n, c][keep], teacher[n, c][keep]
            p_f, q_f = F.softmax(t / tau_forward, 0), F.softmax(s / tau_forward, 0)
            p_r, q_r = F.softmax(t / tau_reverse, 0), F.softmax(s / tau_reverse, 0)
            values.append(
                forward_weight * tau_forward**2 *
                (p_f * (p_f.log() - q_f.log())).sum() +
                reverse_weight * tau_reverse**2 *
                (q_r * (q_r.log() - p_r.log())).sum())
    return torch.stack(values).mean()


@pytest.mark.parametrize('taus', [(1.0, 1.0), (2.0, 3.0)])
def test_spatial_bdd_against_a_loop_over_channels(taus):
    student = logits(2, 3, 4, 5, dtype=torch.float64)
    teacher = logits(2, 3, 4, 5, seed=1, dtype=torch.float64)
    settings = dict(tau_forward=taus[0], tau_reverse=taus[1],
                    forward_weight=0.7, reverse_weight=1.3)
    torch.testing.assert_close(
        bdd_loss(student, teacher, distribution='spatial', **settings),
        loop_spatial_bdd(student, teacher, **settings))
    mask = torch.rand(2, 4, 5, generator=torch.Generator().manual_seed(0)) > 0.5
    mask[1] = False  # an image with no valid pixel is left out
    torch.testing.assert_close(
        bdd_loss(student, teacher, distribution='spatial', valid_mask=mask,
                 **settings),
        loop_spatial_bdd(student, teacher, valid_mask=mask, **settings))


def test_spatial_bdd_by_hand_one_channel_two_positions():
    teacher = P_ONE_PIXEL.reshape(1, 1, 1, 2)  # softmax: [3/4, 1/4]
    student = Q_ONE_PIXEL.reshape(1, 1, 1, 2)  # softmax: [1/2, 1/2]
    forward = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    reverse = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    value = bdd_loss(student, teacher, forward_weight=2.0, reverse_weight=3.0,
                     distribution='spatial')
    assert value.item() == pytest.approx(2 * forward + 3 * reverse, 1e-6)


@pytest.mark.parametrize('tau', [1.0, 2.5])
@pytest.mark.parametrize('masked', [False, True])
def test_spatial_bdd_without_reverse_term_is_cwd(tau, masked):
    student, teacher = logits(2, 19, 5, 6), logits(2, 19, 5, 6, seed=1)
    mask = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(0)) \
        > 0.3 if masked else None
    bdd = BDDLoss(tau_forward=tau, tau_reverse=2.0, reverse_weight=0,
                  distribution='spatial', loss_weight=5.0)
    torch.testing.assert_close(
        bdd(student, teacher, valid_mask=mask),
        CWDLoss(tau=tau, loss_weight=5.0)(student, teacher, valid_mask=mask))


def test_spatial_bdd_differs_from_the_class_form():
    student, teacher = logits(2, 4, 3, 3), logits(2, 4, 3, 3, seed=1)
    assert not torch.isclose(
        bdd_loss(student, teacher, distribution='spatial'),
        bdd_loss(student, teacher, distribution='class'))


def test_bdd_distribution_errors():
    with pytest.raises(ValueError, match=r"distribution must be one of "
                       r"\('class', 'spatial'\), got 'pixel'"):
        BDDLoss(distribution='pixel')
    with pytest.raises(ValueError, match=r'\[N, C, H, W\], got \(4, 19\)'):
        BDDLoss(distribution='spatial')(logits(4, 19), logits(4, 19, seed=1))


# ---- DIST -------------------------------------------------------------------


def test_dist_against_numpy_correlations():
    student, teacher = logits(2, 3, 2, 2), logits(2, 3, 2, 2, seed=1)
    q = F.softmax(student / 2, 1).permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    p = F.softmax(teacher / 2, 1).permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    inter = 1 - np.mean([np.corrcoef(q[i], p[i])[0, 1] for i in range(8)])
    intra = 1 - np.mean([np.corrcoef(q[:, c], p[:, c])[0, 1] for c in range(3)])
    expected = 4 * (0.5 * inter + 2.0 * intra)
    assert dist_loss(student, teacher, beta=0.5, gamma=2.0, tau=2.0).item() \
        == pytest.approx(expected, rel=1e-5)


def test_dist_intra_class_correlates_over_all_pixels_of_the_batch():
    """Intra-class relation: one correlation per class over all N*H*W
    pixels, so the loss equals DIST on the pixels as [N*H*W, C] samples,
    and shuffling pixels across images leaves it unchanged."""
    student, teacher = logits(2, 19, 4, 4), logits(2, 19, 4, 4, seed=1)
    rows = lambda x: x.permute(0, 2, 3, 1).reshape(-1, 19)  # noqa: E731
    intra_only = dict(beta=0.0, gamma=1.0)
    torch.testing.assert_close(
        dist_loss(student, teacher, **intra_only),
        dist_loss(rows(student), rows(teacher), **intra_only))
    shuffle = torch.randperm(32, generator=torch.Generator().manual_seed(0))
    shuffled = lambda x: rows(x)[shuffle].reshape(2, 4, 4, 19).permute(  # noqa
        0, 3, 1, 2)
    torch.testing.assert_close(
        dist_loss(shuffled(student), shuffled(teacher), **intra_only),
        dist_loss(student, teacher, **intra_only))


# ---- CWD --------------------------------------------------------------------


def test_cwd_by_hand_one_channel_two_positions():
    teacher = P_ONE_PIXEL.reshape(1, 1, 1, 2)
    student = Q_ONE_PIXEL.reshape(1, 1, 1, 2)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert cwd_loss(student, teacher).item() == pytest.approx(expected, 1e-6)


def test_cwd_is_the_mean_over_images_and_channels_of_spatial_kl():
    student, teacher = logits(2, 3, 4, 5), logits(2, 3, 4, 5, seed=1)
    per_map = [
        F.kl_div(F.log_softmax(student[n, c].flatten() / 2, 0),
                 F.softmax(teacher[n, c].flatten() / 2, 0), reduction='sum')
        for n in range(2) for c in range(3)
    ]
    torch.testing.assert_close(
        cwd_loss(student, teacher, tau=2.0), 4 * torch.stack(per_map).mean())


def test_cwd_mask_restricts_the_spatial_softmax():
    student, teacher = logits(2, 3, 4, 5), logits(2, 3, 4, 5, seed=1)
    mask = torch.zeros(2, 4, 5, dtype=torch.bool)
    mask[:, 1:3, 2:5] = True
    torch.testing.assert_close(
        cwd_loss(student, teacher, valid_mask=mask),
        cwd_loss(student[:, :, 1:3, 2:5], teacher[:, :, 1:3, 2:5]))
    mask[1] = False  # an image with no valid pixel is left out
    torch.testing.assert_close(
        cwd_loss(student, teacher, valid_mask=mask),
        cwd_loss(student[:1, :, 1:3, 2:5], teacher[:1, :, 1:3, 2:5]))


def test_cwd_refuses_logits_without_space():
    with pytest.raises(ValueError, match=r'\[N, C, H, W\]'):
        cwd_loss(logits(4, 19), logits(4, 19, seed=1))


# ---- PCD ----------------------------------------------------------------


def weighted_kd_per_position(student, teacher, tau=1.0):
    """lambda * KL(p || q) over all classes, lambda = 1 - cos(p, q)."""
    p, q = F.softmax(teacher / tau, 1), F.softmax(student / tau, 1)
    kl = (p * (p.log() - q.log())).sum(1)
    return (1 - F.cosine_similarity(p, q, dim=1)) * kl


def test_pcd_with_one_stage_is_lambda_weighted_kd():
    student, teacher = logits(2, 19, 4, 4), logits(2, 19, 4, 4, seed=1)
    expected = 4 * weighted_kd_per_position(student, teacher, tau=2.0).mean()
    torch.testing.assert_close(pcd_loss(student, teacher, [1], tau=2.0),
                               expected)
    # joint schedule, one stage: fine-to-coarse then coarse-to-fine, twice
    torch.testing.assert_close(
        PCDLoss(num_stages=1, tau=2.0)(student, teacher), 2 * expected)


def test_pcd_groups_follow_the_ranking_of_the_gap():
    # gaps |t - s| = [4, 0.5, 3, 0.1, 1]: ranking 0, 2, 4, 1, 3;
    # two groups of the ranking: {0, 2, 4} and {1, 3}
    teacher = torch.tensor([[2.0, 1.0, -1.0, 0.3, 0.0]])
    student = teacher - torch.tensor([[4.0, -0.5, 3.0, 0.1, -1.0]])
    expected = sum(
        weighted_kd_per_position(student[:, group], teacher[:, group])
        for group in ([0, 2, 4], [1, 3]))
    torch.testing.assert_close(pcd_loss(student, teacher, [2]), expected.mean())


def pcd_by_loops(student, teacher, stages, tau):
    """Per pixel, per stage, per group: the formula written out."""
    n, c, h, w = student.shape
    total = 0.0
    for i in range(n):
        for y in range(h):
            for x in range(w):
                s, t = student[i, :, y, x] / tau, teacher[i, :, y, x] / tau
                ranking = torch.argsort((t - s).abs(), descending=True,
                                        stable=True)
                for groups in stages:
                    for group in ranking.tensor_split(groups):
                        p = F.softmax(t[group], 0)
                        q = F.softmax(s[group], 0)
                        weight = 1 - F.cosine_similarity(p, q, dim=0)
                        total += weight.detach() * (
                            p * (p.log() - q.log())).sum()
    return tau**2 * total / (n * h * w)


def test_pcd_matches_the_formula_written_with_loops():
    student = logits(2, 7, 2, 3, dtype=torch.float64)
    teacher = logits(2, 7, 2, 3, seed=1, dtype=torch.float64)
    stages = stage_sequence(3)
    torch.testing.assert_close(
        pcd_loss(student, teacher, stages, tau=1.5),
        pcd_by_loops(student, teacher, stages, tau=1.5))


def test_pcd_gradient_is_that_of_the_formula_with_lambda_held():
    student = logits(2, 7, 2, 3, dtype=torch.float64).requires_grad_()
    teacher = logits(2, 7, 2, 3, seed=1, dtype=torch.float64)
    stages = stage_sequence(3)
    pcd_loss(student, teacher, stages, tau=1.5).backward()
    vectorized = student.grad.clone()
    student.grad = None
    pcd_by_loops(student, teacher, stages, tau=1.5).backward()
    torch.testing.assert_close(vectorized, student.grad)


def test_pcd_does_not_depend_on_the_class_order():
    student, teacher = logits(2, 19, 4, 4), logits(2, 19, 4, 4, seed=1)
    permutation = torch.randperm(19, generator=torch.Generator().manual_seed(3))
    loss = PCDLoss(num_stages=3, tau=2.0)
    torch.testing.assert_close(
        loss(student[:, permutation], teacher[:, permutation]),
        loss(student, teacher))


@pytest.mark.parametrize('num_classes, num_groups, sizes', [
    (19, 3, [7, 6, 6]), (19, 2, [10, 9]), (5, 2, [3, 2]), (4, 4, [1] * 4)])
def test_groups_are_near_equal_and_contiguous(num_classes, num_groups, sizes):
    ranks, width = group_layout(num_classes, num_groups, torch.device('cpu'))
    grid = ranks.view(num_groups, width)
    got = [row[row < num_classes].tolist() for row in grid]
    assert [len(g) for g in got] == sizes
    assert sum(got, []) == list(range(num_classes))


def test_stages_go_fine_to_coarse_then_back():
    assert stage_sequence(3) == [3, 2, 1, 1, 2, 3]
    assert PCDLoss(num_stages=3).current_stages() == [3, 2, 1, 1, 2, 3]


def use_hub(name, **info):
    hub = MessageHub.get_instance(name)  # becomes the current instance
    for key, value in info.items():
        hub.update_info(key, value)
    return hub


def test_progressive_schedule_advances_with_the_iteration():
    loss = PCDLoss(num_stages=3, schedule='progressive')
    hub = use_hub('pcd-progress', max_iters=60)
    stages = []
    for iteration in range(60):
        hub.update_info('iter', iteration)
        stages.append(loss.current_stages()[0])
    assert stages == [3] * 10 + [2] * 10 + [1] * 20 + [2] * 10 + [3] * 10
    student, teacher = logits(2, 19, 4, 4), logits(2, 19, 4, 4, seed=1)
    hub.update_info('iter', 15)
    torch.testing.assert_close(loss(student, teacher),
                               pcd_loss(student, teacher, [2]))


def test_progressive_schedule_resumes_from_a_saved_message_hub():
    loss = PCDLoss(num_stages=3, schedule='progressive')
    saved = use_hub('pcd-before', iter=47, max_iters=60).state_dict()
    assert loss.current_stages() == [2]
    use_hub('pcd-fresh', iter=0, max_iters=60)
    assert loss.current_stages() == [3]
    MessageHub.get_current_instance().load_state_dict(saved)
    assert loss.current_stages() == [2]


def test_progressive_schedule_without_an_iteration_says_so():
    use_hub('pcd-empty')
    with pytest.raises(RuntimeError, match="needs the training iteration"):
        PCDLoss(schedule='progressive')(logits(2, 19), logits(2, 19, seed=1))


def test_pcd_configuration_errors():
    with pytest.raises(ValueError, match='schedule must be one of'):
        PCDLoss(schedule='sometimes')
    with pytest.raises(ValueError, match='num_stages must be an integer >= 1'):
        PCDLoss(num_stages=0)
    with pytest.raises(ValueError, match='needs at least as many classes'):
        PCDLoss(num_stages=4)(logits(2, 3), logits(2, 3, seed=1))


def test_mse_loss_by_hand():
    student = torch.tensor([[[[1.0, 2.0]], [[0.0, 4.0]]]])  # [1, 2, 1, 2]
    teacher = torch.tensor([[[[0.0, 2.0]], [[3.0, 0.0]]]])
    # per position, mean over the 2 channels: (1 + 9) / 2 and (0 + 16) / 2
    assert mse_loss(student, teacher).item() == pytest.approx((5 + 8) / 2)
    right = torch.tensor([[[False, True]]])
    assert mse_loss(student, teacher, valid_mask=right).item() == \
        pytest.approx(8.0)
    assert mse_loss(teacher, teacher).item() == 0
    loss = MSELoss(loss_weight=0.5)
    assert loss(student, teacher).item() == pytest.approx(0.5 * 6.5)
    student.requires_grad_(True)
    mse_loss(student, teacher).backward()
    # d/ds mean((s - t)^2) over 4 values: (s - t) / 2
    torch.testing.assert_close(student.grad, (student - teacher).detach() / 2)


def test_the_bdd_schedule_needs_the_iteration_and_weighs_by_it():
    loss = BDDLoss(distribution='spatial', forward_weight=2.0,
                   reverse_weight=4.0, reverse_schedule=True)
    use_hub('bdd-empty')
    with pytest.raises(RuntimeError, match=r'BDDLoss\(reverse_schedule=True'
                       r'\) needs the training iteration'):
        loss(logits(2, 5, 4, 4), logits(2, 5, 4, 4, seed=1))
    use_hub('bdd-quarter', iter=25, max_iters=100)
    assert loss.current_weights() == (1.5, 1.0)
    student, teacher = logits(2, 5, 4, 4), logits(2, 5, 4, 4, seed=1)
    fixed = BDDLoss(distribution='spatial', forward_weight=1.5,
                    reverse_weight=1.0)
    torch.testing.assert_close(loss(student, teacher),
                               fixed(student, teacher))
    # without the schedule, the weights as given, whatever the iteration
    assert BDDLoss(forward_weight=2.0, reverse_weight=4.0).current_weights() \
        == (2.0, 4.0)


def test_pcd_reference_settings_that_do_not_apply_are_refused():
    with pytest.raises(ValueError, match="reference=True runs every stage"):
        PCDLoss(reference=True, schedule='progressive')
    with pytest.raises(ValueError, match='warmup_epochs is the reference'):
        PCDLoss(warmup_epochs=20)
    with pytest.raises(ValueError, match='warmup_epochs must be an integer'):
        PCDLoss(reference=True, warmup_epochs=0)
