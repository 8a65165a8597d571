# MMSegmentation's Pascal VOC 2012 + SBD ("aug") training and test pipelines
# (mmseg::_base_/datasets/pascal_voc12_aug.py) with mmkd's checked loaders,
# which name a missing or bad file (and check the label values and size)
# instead of failing inside a dataloader worker or scoring wrong labels: 21
# classes (background and the 20 object classes), 255 on the object borders
# of the VOC maps. A config that lists this file among its bases sets them
# as its dataloaders' pipelines, in each dataset of the training
# ConcatDataset (see ../voc12aug/pspnet_r18_voc12aug.py).
checked_train_pipeline = [
    dict(type='mmkd.LoadCheckedImage'),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=21),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Pad', size=(512, 512)),
    dict(type='PackSegInputs')
]
# The labels are loaded after the resize: they are scored at full size.
checked_test_pipeline = [
    dict(type='mmkd.LoadCheckedImage'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=21),
    dict(type='PackSegInputs')
]
