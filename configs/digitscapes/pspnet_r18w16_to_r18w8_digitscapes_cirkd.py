# configs/pspnet_r101_to_r18_cirkd.py on DigitScapes: CIRKD on the decode
# heads' bottleneck features (64 channels in both), the authors' temperatures
# and weights, a region memory of 2000 per class, beside KD (tau 1, weight
# 1). Teacher, student, data and schedule as in
# pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0),
        loss_cirkd=dict(
            type='CIRKDLoss', student_channels=64, teacher_channels=64,
            num_classes=11, pixel_weight=1.0, region_weight=0.1,
            pixel_temperature=0.1, contrast_temperature=0.1,
            kd_temperature=1.0, region_memory_size=2000,
            region_contrast_size=1024, loss_weight=1.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck')))
