from .digitscapes import (CLASSES, DIGIT_PATCHES_DATA, DIGITSCAPES_DATA,
                          SPLITS, DigitScapesDataset, write_digit_patches,
                          write_digitscapes)
from .layout import dataset_class, dataset_problem, dataset_setting

__all__ = ['CLASSES', 'DIGIT_PATCHES_DATA', 'DIGITSCAPES_DATA', 'SPLITS',
           'DigitScapesDataset', 'write_digit_patches', 'write_digitscapes',
           'dataset_class', 'dataset_setting', 'dataset_problem']
