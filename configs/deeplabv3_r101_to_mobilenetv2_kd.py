# vanilla pixel-wise KD (tau 1, weight 1), as configs/deeplabv3_r101_to_r18_kd.py (which gives
# the setting's source), into a MobileNetV2 student on Cityscapes.
# Teacher: DeepLabV3-R101-d8, 80.20 mIoU (OpenMMLab model zoo).
# Student: DeepLabV3-MobileNetV2-d8, 73.84 mIoU trained alone (OpenMMLab model
# zoo, mmseg::mobilenet_v2/mobilenet-v2-d8_deeplabv3_4xb2-80k_cityscapes-
# 512x1024.py): its backbone and heads from ./_base_/mobilenetv2_student.py;
# data, schedule and losses as the R18 config.
_base_ = ['./deeplabv3_r101_to_r18_kd.py', './_base_/mobilenetv2_student.py']

model = dict(student={{_base_.mobilenetv2_student}})
