# The KD config shrunk to run on a CPU in minutes: 128x256 images, 64x128
# crops, 40 iterations, on a small Cityscapes-layout dataset that the tests
# write (mmkd.synthetic.write_cityscapes_layout: the real directory layout
# and file names, generated content). Teacher and student are the real
# PSPNet-R101 and PSPNet-R18.
_base_ = ['../pspnet_r101_to_r18_kd.py']

data_root = 'data/demo_cityscapes/'
crop_size = (64, 128)
scale = (256, 128)
max_iters = 40

data_preprocessor = dict(size=crop_size)
model = dict(
    student=dict(
        pretrained=None,  # no ImageNet download
        data_preprocessor=data_preprocessor),
    teacher=dict(checkpoint=data_root + 'teacher_pspnet_r101.pth'))

train_pipeline = [
    dict(type='mmkd.LoadCheckedImage'),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=19),
    dict(type='RandomResize', scale=scale, ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='mmkd.LoadCheckedImage'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=19),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters))
