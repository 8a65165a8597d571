# configs/pspnet_r101_to_r18_mgd.py on DigitScapes: MGD on the last backbone
# stage (64 channels in the student, 128 in the teacher), alpha_mgd 2e-5,
# lambda_mgd 0.75, beside CWD on the logits at tau 4, weight 3. Teacher,
# student, data and schedule as in pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_cwd=dict(type='CWDLoss', tau=4.0, loss_weight=3.0),
        loss_mgd=dict(
            type='MGDLoss', student_channels=64, teacher_channels=128,
            alpha_mgd=2e-5, lambda_mgd=0.75,
            student='backbone.layer4', teacher='backbone.layer4')))
