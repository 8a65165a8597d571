# PSPNet-R18-d8 trained alone on Pascal VOC 2012 + SBD ("aug": the 1464 VOC
# training images plus the SBD annotations of 9118 more; 21 classes),
# 512x512 crops, batch 4 x 4 GPUs, 40k iterations: the student of the
# distiller configs of this folder, and their data, schedule and runtime.
# MMSegmentation has no R18 VOC config and its zoo no VOC figure for this
# student, so there is no zoo baseline: train this config for one. It is
# MMSegmentation's PSPNet-R101 VOC-aug config
# (pspnet_r101-d8_4xb4-40k_voc12aug-512x512.py) with the backbone made R18
# as MMSegmentation's pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py makes it
# from R50: depth 18, ImageNet weights open-mmlab://resnet18_v1c, decode
# head in 512 / 128 channels, auxiliary head in 256 / 64 channels.
_base_ = [
    'mmseg::pspnet/pspnet_r101-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/voc12aug_checked_loading.py'
]
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))

# Checked loading (configs/_base_/voc12aug_checked_loading.py), otherwise
# MMSegmentation's VOC-aug pipelines and datasets: the training set
# concatenates the VOC training split (SegmentationClass,
# ImageSets/Segmentation/train.txt) and the SBD one (SegmentationClassAug,
# ImageSets/Segmentation/aug.txt); validation is the VOC val split.
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(_base_.dataset_train, pipeline=_base_.checked_train_pipeline),
        dict(_base_.dataset_aug, pipeline=_base_.checked_train_pipeline)
    ]))
val_dataloader = dict(dataset=dict(pipeline={{_base_.checked_test_pipeline}}))
test_dataloader = val_dataloader

# --resume continues exactly where the run stopped.
custom_hooks = [dict(type='mmkd.ResumeRandomStateHook')]
