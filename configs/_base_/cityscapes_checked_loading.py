# MMSegmentation's Cityscapes training and test pipelines with mmkd's
# checked loaders, which name a missing or bad file (and check the label
# values and size) instead of failing inside a dataloader worker or scoring
# wrong labels. A config that lists this file among its bases sets them as
# its dataloaders' pipelines (see ../pspnet_r101_to_r18_kd.py).
checked_train_pipeline = [
    dict(type='mmkd.LoadCheckedImage'),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=19),
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 1024), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
# The labels are loaded after the resize: they are scored at full size.
checked_test_pipeline = [
    dict(type='mmkd.LoadCheckedImage'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=19),
    dict(type='PackSegInputs')
]
