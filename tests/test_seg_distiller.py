import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS as ROOT_MODELS

from conftest import (DATA_PREPROCESSOR, NUM_CLASSES, distiller_cfg,
                      segmentor_cfg)
from mmkd.models.losses import kd_loss
from mmkd.testing import make_seg_batch, write_model_checkpoint


def build(cfg):
    return ROOT_MODELS.build(cfg)


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def train_step(distiller, batch, lr=0.1):
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(distiller.parameters(), lr=lr, momentum=0.9))
    return distiller.train_step(batch, optim_wrapper)


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


def test_teacher_logits_are_resized_to_the_students(tmp_path):
    # a d16 teacher (logits at 1/16 of the input) and a d8 student (1/8)
    teacher_cfg = segmentor_cfg(width=16, strides=(1, 2, 2, 1),
                                dilations=(1, 1, 1, 2))
    checkpoint = tmp_path / 'teacher_d16.pth'
    write_model_checkpoint(teacher_cfg, str(checkpoint))
    distiller = build(distiller_cfg(checkpoint, teacher=teacher_cfg))
    distiller.train()
    distiller.student.decode_head.dropout.p = 0.0
    data = distiller.data_preprocessor(make_seg_batch(), True)
    losses = distiller.loss(**data)
    with torch.no_grad():
        student_logits = distiller.student._forward(data['inputs'])
        teacher_logits = distiller.teacher._forward(data['inputs'])
    assert teacher_logits.shape[2:] == (2, 2)
    assert student_logits.shape[2:] == (4, 4)
    resized = F.interpolate(teacher_logits, size=(4, 4), mode='bilinear',
                            align_corners=False)
    torch.testing.assert_close(
        losses['distill.loss_kd'],
        3.0 * kd_loss(student_logits, resized, tau=2.0))


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
    data = distiller.data_preprocessor(batch, True)
    losses = distiller.loss(**data)
    with torch.no_grad():
        student_logits = distiller.student._forward(data['inputs'])
        teacher_logits = distiller.teacher._forward(data['inputs'])
    valid = torch.ones(2, 4, 4, dtype=torch.bool)
    valid[0, :2] = False  # the top half at 1/8 resolution
    expected = 3.0 * kd_loss(student_logits, teacher_logits, tau=2.0,
                             valid_mask=valid)
    torch.testing.assert_close(losses['distill.loss_kd'], expected)
    all_pixels = 3.0 * kd_loss(student_logits, teacher_logits, tau=2.0)
    assert not torch.allclose(losses['distill.loss_kd'], all_pixels)
