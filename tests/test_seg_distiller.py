import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS as ROOT_MODELS

from conftest import (DATA_PREPROCESSOR, NUM_CLASSES, distiller_cfg,
                      segmentor_cfg)
from mmkd.models.distillers.base import DistillerConfigError
from mmkd.models.losses import kd_loss
from mmkd.models.builder import save_initial_checkpoint
from mmkd.synthetic import make_seg_batch


def build(cfg):
    return ROOT_MODELS.build(cfg)


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def train_step(distiller, batch, lr=0.1):
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(distiller.parameters(), lr=lr, momentum=0.9))
    return distiller.train_step(batch, optim_wrapper)


def losses_and_logits(distiller, batch):
    """The training-step losses on ``batch``, and the student's and the
    teacher's decode-head logits on it (``[N, C, h, w]``)."""
    data = distiller.data_preprocessor(batch, True)
    losses = distiller.loss(**data)
    with torch.no_grad():
        return (losses, distiller.student._forward(data['inputs']),
                distiller.teacher._forward(data['inputs']))


def test_distill_loss_is_kd_on_the_decode_head_logits(teacher_checkpoint):
    distiller = build(distiller_cfg(teacher_checkpoint))
    distiller.train()
    torch.manual_seed(0)
    data = distiller.data_preprocessor(make_seg_batch(), True)
    # dropout off, so two forward passes see the same student logits
    distiller.student.decode_head.dropout.p = 0.0
    losses = distiller.loss(**data)
    with torch.no_grad():
        student = distiller.student
        student_logits = student.decode_head(student.extract_feat(data['inputs']))
        teacher_logits = distiller.teacher._forward(data['inputs'])
    assert student_logits.shape == (2, NUM_CLASSES, 4, 4)  # 1/8 of 32x32
    torch.testing.assert_close(
        losses['distill.loss_kd'],
        3.0 * kd_loss(student_logits, teacher_logits, tau=2.0))


# backbone strides and dilations of a teacher predicting at 1/4 or 1/16
TEACHER_STRIDES = {4: dict(strides=(1, 1, 1, 1), dilations=(1, 2, 4, 8)),
                   16: dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))}


def distiller_over_teacher(tmp_path, stride, **kwargs):
    """The d8 student (logits 4x4 on 32x32 inputs) under a width-16 teacher
    predicting at 1/``stride``, dropout off so that forwards repeat."""
    teacher_cfg = segmentor_cfg(width=16, **TEACHER_STRIDES[stride])
    checkpoint = tmp_path / f'teacher_d{stride}.pth'
    save_initial_checkpoint(teacher_cfg, str(checkpoint))
    distiller = build(distiller_cfg(checkpoint, teacher=teacher_cfg,
                                    **kwargs))
    distiller.train()
    distiller.student.decode_head.dropout.p = 0.0
    return distiller


def test_teacher_logits_are_resized_to_the_students(tmp_path):
    distiller = distiller_over_teacher(tmp_path, 16)
    losses, student_logits, teacher_logits = losses_and_logits(
        distiller, make_seg_batch())
    assert teacher_logits.shape[2:] == (2, 2)
    assert student_logits.shape[2:] == (4, 4)
    resized = F.interpolate(teacher_logits, size=(4, 4), mode='bilinear',
                            align_corners=False)
    torch.testing.assert_close(
        losses['distill.loss_kd'],
        3.0 * kd_loss(student_logits, resized, tau=2.0))


def test_finer_distill_size_upsamples_the_student_to_a_finer_teacher(
        tmp_path):
    batch = make_seg_batch()
    batch['data_samples'][0].gt_sem_seg.data[:, :16] = 255  # top half
    for distill_size in ('student', 'finer'):
        distiller = distiller_over_teacher(
            tmp_path, 4, distill_size=distill_size, distill_ignore_index=255)
        losses, student_logits, teacher_logits = losses_and_logits(
            distiller, batch)
        assert student_logits.shape[2:] == (4, 4)
        assert teacher_logits.shape[2:] == (8, 8)
        if distill_size == 'finer':
            student_logits = F.interpolate(student_logits, size=(8, 8),
                                           mode='bilinear',
                                           align_corners=False)
        else:
            teacher_logits = F.interpolate(teacher_logits, size=(4, 4),
                                           mode='bilinear',
                                           align_corners=False)
        # the ignore mask is taken at the size the losses compare
        size = student_logits.shape[-1]
        valid = torch.ones(2, size, size, dtype=torch.bool)
        valid[0, :size // 2] = False
        torch.testing.assert_close(
            losses['distill.loss_kd'],
            3.0 * kd_loss(student_logits, teacher_logits, tau=2.0,
                          valid_mask=valid))


def test_finer_distill_size_keeps_the_student_size_over_a_coarser_teacher(
        tmp_path):
    # under a d16 teacher the student's map is the finer one, as by default
    distiller = distiller_over_teacher(tmp_path, 16, distill_size='finer')
    data = distiller.data_preprocessor(make_seg_batch(), True)
    finer = distiller.loss(**data)['distill.loss_kd']
    distiller.distill_size = 'student'
    assert finer.item() > 0
    torch.testing.assert_close(finer,
                               distiller.loss(**data)['distill.loss_kd'])


def test_distill_size_must_be_student_or_finer(teacher_checkpoint):
    with pytest.raises(DistillerConfigError, match="distill_size.*'teacher'"):
        build(distiller_cfg(teacher_checkpoint, distill_size='teacher'))


def test_the_runner_data_preprocessor_is_used_when_given(teacher_checkpoint):
    preprocessor = dict(DATA_PREPROCESSOR, size=(64, 64))
    distiller = build(
        distiller_cfg(teacher_checkpoint, data_preprocessor=preprocessor))
    assert distiller.data_preprocessor.size == (64, 64)
    assert distiller.student.data_preprocessor.size == (32, 32)


def test_ignored_pixels_can_be_left_out_of_distillation(teacher_checkpoint):
    distiller = build(
        distiller_cfg(teacher_checkpoint, distill_ignore_index=255))
    distiller.train()
    distiller.student.decode_head.dropout.p = 0.0
    batch = make_seg_batch()
    batch['data_samples'][0].gt_sem_seg.data[:, :16] = 255  # top half
    losses, student_logits, teacher_logits = losses_and_logits(
        distiller, batch)
    valid = torch.ones(2, 4, 4, dtype=torch.bool)
    valid[0, :2] = False  # the top half at 1/8 resolution
    expected = 3.0 * kd_loss(student_logits, teacher_logits, tau=2.0,
                             valid_mask=valid)
    torch.testing.assert_close(losses['distill.loss_kd'], expected)
    all_pixels = 3.0 * kd_loss(student_logits, teacher_logits, tau=2.0)
    assert not torch.allclose(losses['distill.loss_kd'], all_pixels)
