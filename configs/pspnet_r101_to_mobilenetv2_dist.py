# DIST on the decode heads (weight 1) and the auxiliary heads (weight 0.4), as configs/pspnet_r101_to_r18_dist.py (which gives
# the setting's source), into a MobileNetV2 student on Cityscapes.
# Teacher: PSPNet-R101-d8, 79.76 mIoU (OpenMMLab model zoo).
# Student: PSPNet-MobileNetV2-d8, 70.23 mIoU trained alone (OpenMMLab model
# zoo, mmseg::mobilenet_v2/mobilenet-v2-d8_pspnet_4xb2-80k_cityscapes-
# 512x1024.py): its backbone and heads from ./_base_/mobilenetv2_student.py;
# data, schedule and losses as the R18 config.
_base_ = ['./pspnet_r101_to_r18_dist.py', './_base_/mobilenetv2_student.py']

model = dict(student={{_base_.mobilenetv2_student}})
