# Attention transfer (Zagoruyko and Komodakis, ICLR 2017) on the output of
# the decode heads' bottleneck, the PSP head's features before its classifier
# (128 channels in the student, 512 in the teacher), where CIRKD's code
# distils them (its models return the head's features after the PSP module),
# p = 2, weight 10000, beside KD on the logits (tau 1, weight 1): CIRKD's
# setting for DeepLabV3-R101 into R18 (winycg/CIRKD,
# scripts/train_kd/train_at.sh: --lambda-kd 1, --lambda-at 10000). Its
# published figure in CIRKD's protocol is quoted in docs/losses.md. Teacher,
# student, data and schedule as in pspnet_r101_to_r18_kd.py.
_base_ = ['./pspnet_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0),
        loss_at=dict(
            type='ATLoss', p=2.0, loss_weight=10000.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck')))
