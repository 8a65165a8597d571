# Intra-class feature variation distillation (Wang et al., ECCV 2020) on the
# output of the decode heads' bottleneck, the ASPP head's features before its
# classifier (128 channels in the student, 512 in the teacher), where CIRKD's
# code distils them (its models return the head's features after the ASPP
# module), with the ground-truth labels: weight 20, beside KD on the logits
# (tau 1, weight 1): CIRKD's setting (scripts/train_kd/train_ifvd.sh:
# --lambda-kd 1, --lambda-ifv 20), without its adversarial term. Teacher,
# student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0),
        loss_ifvd=dict(
            type='IFVDLoss', num_classes=19, loss_weight=20.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck')))
