"""The parsing behind the demo and the method benchmark (mmkd/runs.py), on
log text in the format MMSegmentation's IoUMetric and tools/test.py write."""
import math

import pytest

from mmkd.runs import RunError, mean_and_std, parse_test_log

LOG = '''\
11/23 17:54:47 - mmengine - INFO - per class results:
11/23 17:54:47 - mmengine - INFO -
+------------+-------+-------+
|   Class    |  IoU  |  Acc  |
+------------+-------+-------+
| background | 95.79 | 98.66 |
|     0      | 68.37 | 82.41 |
|     1      |  nan  |  nan  |
|  motor cycle  |  0.0  |  0.0  |
+------------+-------+-------+
11/23 17:54:47 - mmengine - INFO - Iter(test) [25/25]    aAcc: 90.4000  mIoU: 59.9600  mAcc: 73.2900  data_time: 0.0042  time: 0.0531
aAcc: 90.40 mIoU: 59.96 mAcc: 73.29
'''


def test_figures_and_the_per_class_table_are_read_back():
    figures = parse_test_log(LOG, 'x.pth')
    assert {k: figures[k] for k in ('aAcc', 'mIoU', 'mAcc')} == dict(
        aAcc=90.40, mIoU=59.96, mAcc=73.29)
    per_class = figures['per_class']
    assert list(per_class) == ['background', '0', '1', 'motor cycle']
    assert per_class['background'] == 95.79 and per_class['0'] == 68.37
    assert math.isnan(per_class['1'])


def test_a_log_without_figures_is_an_error():
    with pytest.raises(RunError, match='no mIoU in the log of testing x.pth'):
        parse_test_log('Traceback ...', 'x.pth')
    with pytest.raises(RunError, match='no accuracy/top1 in the log'):
        parse_test_log(LOG, 'x.pth', 'accuracy/top1')


def test_classification_accuracy_is_read_back():
    log = ('11/24 03:40:36 - mmengine - INFO - Epoch(test) [6/6]    '
           'accuracy/top1: 97.2222  data_time: 0.0052  time: 2.3575\n')
    figures = parse_test_log(log, 'x.pth', 'accuracy/top1')
    assert figures['accuracy/top1'] == 97.2222
    assert figures['per_class'] == {}


def test_mean_and_sample_standard_deviation():
    assert mean_and_std([12.0]) == (12.0, 0.0)
    mean, std = mean_and_std([1.0, 2.0, 6.0])
    assert mean == 3.0
    assert std == pytest.approx(math.sqrt(((1 - 3)**2 + 1 + 9) / 2))
