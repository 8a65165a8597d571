# Masked generative distillation (Yang et al., ECCV 2022) on the last
# backbone stage (512 channels in the student, 2048 in the teacher, aligned
# by a 1x1 convolution), alpha_mgd 2e-5, lambda_mgd 0.75, beside CWD on the
# logits at tau 4, weight 3: the authors' segmentation setting (yzd-v/MGD,
# seg/configs/distillers/mgd/psp_r101_distill_psp_r18_40k_512x512_city.py and
# its distiller's use_logit term). The alignment and generation layers train
# with the student, are saved in training checkpoints and never exported.
# Teacher, student, data and schedule as in pspnet_r101_to_r18_kd.py.
_base_ = ['./pspnet_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_cwd=dict(type='CWDLoss', tau=4.0, loss_weight=3.0),
        loss_mgd=dict(
            type='MGDLoss', student_channels=512, teacher_channels=2048,
            alpha_mgd=2e-5, lambda_mgd=0.75,
            student='backbone.layer4', teacher='backbone.layer4')))
