# PSPNet-R18-d8 trained alone on ADE20K (150 classes), 512x512 crops, batch
# 4 x 4 GPUs, 160k iterations: the student of the distiller configs of
# this folder, and their data, schedule and runtime. MMSegmentation has no
# R18 ADE20K config and its zoo no ADE20K figure for this student, so there
# is no zoo baseline: train this config for one. It is MMSegmentation's
# PSPNet-R101 ADE20K config (pspnet_r101-d8_4xb4-160k_ade20k-512x512.py)
# with the backbone made R18 as MMSegmentation's
# pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py makes it from R50: depth 18,
# ImageNet weights open-mmlab://resnet18_v1c, decode head in 512 / 128
# channels, auxiliary head in 256 / 64 channels.
_base_ = [
    'mmseg::pspnet/pspnet_r101-d8_4xb4-160k_ade20k-512x512.py',
    '../_base_/ade20k_checked_loading.py'
]
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))

# Checked loading (configs/_base_/ade20k_checked_loading.py), otherwise
# MMSegmentation's ADE20K pipelines.
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.checked_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.checked_test_pipeline}}))
test_dataloader = val_dataloader

# --resume continues exactly where the run stopped.
custom_hooks = [dict(type='mmkd.ResumeRandomStateHook')]
