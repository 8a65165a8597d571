# Structured knowledge distillation, its pair-wise term (Liu et al., CVPR
# 2019), on the output of the decode heads' bottleneck, the ASPP head's
# features before its classifier (128 channels in the student, 512 in the
# teacher), where CIRKD's code distils them (its models return the head's
# features after the ASPP module): 2x2 patches, weight 10, beside KD on the
# logits (tau 1, weight 1): CIRKD's setting (scripts/train_kd/train_skd.sh:
# --lambda-kd 1, --lambda-skd 10), without the adversarial term that script
# adds (--lambda-adv 0.001, --lambda-d 0.1; mmkd has no discriminator).
# Teacher, student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0),
        loss_skd=dict(
            type='SKDLoss', patch_size=2, loss_weight=10.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck')))
