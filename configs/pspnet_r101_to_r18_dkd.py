# Decoupled knowledge distillation (Zhao et al., CVPR 2022), per pixel on the
# logits, with the ground-truth labels (pixels labelled 255 left out): alpha
# 1, beta 0.5, tau 1. No published setting for segmentation; this one is
# ours: mdistiller's ImageNet setting (configs/imagenet/r34_r18/dkd.yaml),
# whose temperature 1 is the KD baseline's here. Teacher, student, data and
# schedule as in pspnet_r101_to_r18_kd.py.
_base_ = ['./pspnet_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dkd=dict(
            type='DKDLoss', alpha=1.0, beta=0.5, tau=1.0, loss_weight=1.0)))
