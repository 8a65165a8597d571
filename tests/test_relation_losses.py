"""The losses segmentation and classification papers compare against (AT,
SKD, IFVD, CIRKD, MGD, DKD, standardised logits): their properties (zero
when the student is the teacher, invariances, ignored labels, bounded
memory, trained parts saved and restored) and the labels the distillers
pass them. Their values equal the authors' code: test_conformance.py."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS as ROOT_MODELS

from conftest import CLS, SEG, distiller_cfg
from mmkd.models.losses import (ATLoss, BDDLoss, CIRKDLoss, DKDLoss,
                                IFVDLoss, KDLoss, MGDLoss, PCDLoss, SKDLoss,
                                at_loss, cirkd_pixel_loss, cirkd_region_loss,
                                dkd_loss, ifvd_loss, kd_loss, skd_loss)
from mmkd.models.losses.base import standardize
from mmkd.models.settings import SettingError


def features(*shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def label_map(n=2, h=4, w=6, classes=5, seed=0, ignored=3):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n, h, w), generator=generator)
    labels.view(-1)[torch.randperm(n * h * w, generator=generator)[
        :ignored]] = 255
    return labels


# ---- whole-map losses -------------------------------------------------------


def test_at_is_zero_for_the_same_attention_whatever_the_channels():
    teacher = features(2, 6, 4, 6)
    assert at_loss(teacher, teacher).item() == 0
    # scaled features and permuted channels give the same attention
    same = 3 * teacher[:, torch.randperm(6)]
    assert at_loss(same, teacher).item() == pytest.approx(0, abs=1e-15)
    assert at_loss(features(2, 4, 4, 6), teacher).item() > 0
    with pytest.raises(ValueError, match='same N, H and W'):
        at_loss(features(2, 4, 4, 5), teacher)


def test_skd_is_zero_for_the_same_structure_and_bounds_its_memory():
    teacher = features(2, 6, 8, 8)
    assert skd_loss(2.5 * teacher, teacher).item() == pytest.approx(0)
    assert skd_loss(features(2, 3, 8, 8, seed=1), teacher).item() > 0
    with pytest.raises(ValueError, match=r'SKDLoss: 16 positions per image '
                       r'need 16 x 16 similarity matrices, 0 MiB for 2 '
                       r'images .* max_positions=15'):
        skd_loss(teacher, teacher, patch_size=2, max_positions=15)
    loss = SKDLoss(max_positions=15)
    with pytest.raises(ValueError, match='raise it if the memory is there'):
        loss(teacher, teacher)


def test_ifvd_is_zero_when_equal_and_ignored_pixels_add_nothing():
    student, teacher = features(2, 6, 4, 6), features(2, 8, 4, 6, seed=1)
    labels = label_map()
    assert ifvd_loss(teacher, teacher, labels, 5).item() == 0
    value = ifvd_loss(student, teacher, labels, 5)
    assert value.item() > 0
    # what the student does at an ignored pixel changes nothing
    ignored = (labels == 255)[:, None].expand_as(student)
    changed = student.masked_fill(ignored, 7.0)
    torch.testing.assert_close(ifvd_loss(changed, teacher, labels, 5), value)
    # labels at another resolution are resized to the features (nearest)
    fine = labels.repeat_interleave(2, 1).repeat_interleave(2, 2)
    torch.testing.assert_close(ifvd_loss(student, teacher, fine, 5), value)


# ---- CIRKD ------------------------------------------------------------------


def test_cirkd_terms_are_zero_when_the_student_relates_as_the_teacher():
    teacher = features(2, 8, 4, 6)
    assert cirkd_pixel_loss(teacher, teacher).item() == pytest.approx(0)
    contrast = F.normalize(features(10, 8, seed=2), dim=1)
    assert cirkd_region_loss(teacher, teacher, label_map(), contrast
                             ).item() == pytest.approx(0, abs=1e-12)


def test_cirkd_pairs_reach_the_images_of_other_ranks():
    """With images of other ranks, each local image is paired with them
    too: the mean over (local, all) pairs."""
    student, teacher = features(4, 6, 4, 6), features(4, 8, 4, 6, seed=1)
    whole = cirkd_pixel_loss(student, teacher)  # 16 pairs
    local = cirkd_pixel_loss(student[:2], teacher[:2], 0.1, student[2:],
                             teacher[2:])  # 2 x 4 pairs
    rest = cirkd_pixel_loss(student[2:], teacher[2:], 0.1, student[:2],
                            teacher[:2])
    torch.testing.assert_close((local + rest) / 2, whole)


def test_cirkd_bounds_its_memory():
    with pytest.raises(ValueError, match=r'CIRKDLoss: 24 positions per '
                       r'image need 24 x 24 similarity matrices'):
        cirkd_pixel_loss(features(2, 6, 4, 6), features(2, 8, 4, 6),
                         max_positions=23)


def test_cirkd_memory_and_head_are_saved_and_restored():
    loss = CIRKDLoss(6, 8, num_classes=5, region_memory_size=4).double()
    student, teacher = features(2, 6, 4, 6), features(2, 8, 4, 6, seed=1)
    labels = label_map()
    torch.manual_seed(0)
    loss(student, teacher, labels=labels).backward()
    state = loss.state_dict()
    assert {'region_memory', 'region_pointer', 'project.0.weight',
            'project.1.running_mean'} <= set(state)
    assert loss.region_pointer.tolist() == [2, 2, 2, 2, 2]
    assert loss.project[0].weight.grad is not None  # trained
    again = CIRKDLoss(6, 8, num_classes=5, region_memory_size=4).double()
    again.load_state_dict(state)
    torch.manual_seed(1)
    expected = loss(student, teacher, labels=labels)
    torch.manual_seed(1)
    torch.testing.assert_close(again(student, teacher, labels=labels),
                               expected)
    with pytest.raises(ValueError, match='needs the ground-truth labels'):
        loss(student, teacher)


# ---- MGD --------------------------------------------------------------------


def test_mgd_aligns_channels_and_draws_its_mask_from_torchs_generator():
    loss = MGDLoss(student_channels=6, teacher_channels=8).double()
    assert loss.align is not None and loss.align.out_channels == 8
    assert MGDLoss(8, 8).align is None
    student, teacher = features(2, 6, 4, 6), features(2, 8, 4, 6, seed=1)
    torch.manual_seed(3)
    first = loss(student, teacher)
    torch.manual_seed(3)
    torch.testing.assert_close(loss(student, teacher), first)
    first.backward()
    assert loss.generation[0].weight.grad.abs().sum() > 0
    mask = loss.random_mask(teacher)
    assert mask.shape == (2, 1, 4, 6) and set(mask.unique().tolist()) <= {
        0.0, 1.0}
    with pytest.raises(ValueError, match='lambda_mgd is the share'):
        MGDLoss(6, 8, lambda_mgd=1.0)


# ---- DKD and standardised logits -------------------------------------------


def test_dkd_is_zero_when_equal_and_per_pixel_as_per_sample():
    logits, labels = features(2, 5, 4, 6), label_map()
    assert dkd_loss(logits, logits.clone(), labels).item() == \
        pytest.approx(0, abs=1e-12)
    student = features(2, 5, 4, 6, seed=1)
    keep = labels.flatten() != 255
    rows = lambda x: x.movedim(1, -1).flatten(0, 2)[keep]  # noqa: E731
    torch.testing.assert_close(
        dkd_loss(student, logits, labels),
        dkd_loss(rows(student), rows(logits), labels.flatten()[keep]))


def test_dkd_warmup_follows_the_epoch():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('dkd-warmup')
    hub.update_info('epoch', 4)  # the fifth epoch
    loss = DKDLoss(warmup_epochs=20)
    student, teacher = features(4, 7), features(4, 7, seed=1)
    labels = torch.tensor([0, 3, 6, 2])
    torch.testing.assert_close(loss(student, teacher, labels=labels),
                               0.25 * DKDLoss()(student, teacher,
                                                labels=labels))


def test_standardised_logits_ignore_each_positions_shift_and_scale():
    student, teacher = features(2, 5, 4, 6), features(2, 5, 4, 6, seed=1)
    shifted = 3 * student + features(2, 1, 4, 6, seed=2)
    for loss in (KDLoss(standardize=True), BDDLoss(standardize=True),
                 PCDLoss(standardize=True)):
        torch.testing.assert_close(loss(shifted, teacher),
                                   loss(student, teacher))
    torch.testing.assert_close(
        kd_loss(student, teacher, standardized=True),
        kd_loss(standardize(student), standardize(teacher)))
    with pytest.raises(SettingError, match="standardize is for distribution"):
        BDDLoss(distribution='spatial', standardize=True)
    with pytest.raises(SettingError, match='standardize is True or False'):
        KDLoss(standardize='yes')


# ---- through the distillers -------------------------------------------------


def test_seg_distiller_passes_label_maps_at_the_compared_size(
        teacher_checkpoint):
    cfg = distiller_cfg(teacher_checkpoint)
    cfg['distill_losses'] = dict(
        loss_ifvd=dict(type='IFVDLoss', num_classes=4,
                       student='backbone.layer4', teacher='backbone.layer4'),
        loss_dkd=dict(type='DKDLoss', tau=1.0))
    distiller = ROOT_MODELS.build(cfg)
    seen = {}
    for name, loss in distiller.distill_losses.items():
        original = loss.forward

        def record(student, teacher, valid_mask=None, labels=None,
                   name=name, original=original):
            seen[name] = (tuple(student.shape), tuple(labels.shape))
            return original(student, teacher, valid_mask, labels)

        loss.forward = record
    data = distiller.data_preprocessor(SEG.make_batch(), True)
    losses = distiller.loss(**data)
    assert torch.isfinite(losses['distill.loss_ifvd'])
    assert torch.isfinite(losses['distill.loss_dkd'])
    student_shape, label_shape = seen['loss_ifvd']
    assert label_shape == (student_shape[0], *student_shape[2:])
    student_shape, label_shape = seen['loss_dkd']
    assert label_shape == (student_shape[0], *student_shape[2:])


def test_cls_distiller_passes_class_indices(cls_teacher_checkpoint):
    cfg = distiller_cfg(cls_teacher_checkpoint, task=CLS)
    cfg['distill_losses'] = dict(loss_dkd=dict(type='DKDLoss'))
    distiller = ROOT_MODELS.build(cfg)
    batch = CLS.make_batch()
    data = distiller.data_preprocessor(batch, True)
    losses = distiller.loss(**data)
    labels = torch.cat([s.gt_label for s in batch['data_samples']])
    outputs = distiller.forward_step(**data)
    expected = DKDLoss()(outputs.student_logits, outputs.teacher_logits,
                         labels=labels)
    torch.testing.assert_close(losses['distill.loss_dkd'], expected)


def test_whole_map_losses_compare_maps_of_other_channel_counts(
        teacher_checkpoint):
    cfg = distiller_cfg(teacher_checkpoint, distill_ignore_index=255)
    cfg['distill_losses'] = dict(
        loss_at=dict(type='ATLoss', student='backbone.layer4',
                     teacher='backbone.layer4'),
        loss_skd=dict(type='SKDLoss', student='backbone.layer4',
                      teacher='backbone.layer4'),
        loss_cirkd=dict(type='CIRKDLoss', student_channels=64,
                        teacher_channels=128, num_classes=4,
                        student='backbone.layer4',
                        teacher='backbone.layer4'),
        loss_mgd=dict(type='MGDLoss', student_channels=64,
                      teacher_channels=128, student='backbone.layer4',
                      teacher='backbone.layer4'))
    distiller = ROOT_MODELS.build(cfg)
    data = distiller.data_preprocessor(SEG.make_batch(), True)
    losses = distiller.loss(**data)
    for name in ('at', 'skd', 'cirkd', 'mgd'):
        assert torch.isfinite(losses[f'distill.loss_{name}']), name
    # a pixel-wise loss still refuses other channel counts
    cfg['distill_losses'] = dict(loss_mse=dict(
        type='MSELoss', student='backbone.layer4', teacher='backbone.layer4'))
    with pytest.raises(ValueError, match='cannot compare'):
        distiller = ROOT_MODELS.build(cfg)
        distiller.loss(**data)


def test_relation_loss_settings_are_checked():
    with pytest.raises(SettingError, match='IFVDLoss: num_classes must be'):
        IFVDLoss(num_classes=0)
    with pytest.raises(SettingError, match='ATLoss: p must be a finite'):
        ATLoss(p=0)
    with pytest.raises(SettingError, match='DKDLoss: beta must be a finite'):
        DKDLoss(beta=-1)
    with pytest.raises(SettingError, match='CIRKDLoss: region_memory_size'):
        CIRKDLoss(8, 8, 4, region_memory_size=0)
