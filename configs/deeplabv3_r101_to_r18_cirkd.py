# Cross-image relational knowledge distillation (Yang et al., CVPR 2022) on
# the output of the decode heads' bottleneck, the ASPP head's features before
# its classifier (128 channels in the student, 512 in the teacher), where
# CIRKD's code distils them (its models return the head's features after the
# ASPP module): pixel-to-pixel relations across the batch (temperature 0.1,
# weight 1) and pixel-to-region relations against a memory of 2000 teacher
# regions per class (1024 drawn per step, contrast temperature 0.1, KD
# temperature 1, weight 0.1), beside KD on the logits (tau 1, weight 1): the
# authors' setting (winycg/CIRKD, train_cirkdv2.py defaults; its memory-based
# pixel term is not part of this loss). With distributed training across
# GPUs, distributed=True pairs each image with those of every GPU. Memory:
# docs/losses.md. Teacher, student, data and schedule as in
# deeplabv3_r101_to_r18_kd.py.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0),
        loss_cirkd=dict(
            type='CIRKDLoss', student_channels=128, teacher_channels=512,
            num_classes=19, pixel_weight=1.0, region_weight=0.1,
            pixel_temperature=0.1, contrast_temperature=0.1,
            kd_temperature=1.0, region_memory_size=2000,
            region_contrast_size=1024, loss_weight=1.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck')))
