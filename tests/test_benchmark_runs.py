"""The runs behind the demo and the method benchmark (mmkd.benchmark.runs):
parsing log text in the format MMSegmentation's IoUMetric and tools/test.py
write, reuse by settings, and the statistics (mmkd.benchmark.stats)."""
import math

import pytest

from mmkd.benchmark import runs
from mmkd.benchmark.runs import (RunError, parse_test_log, settings_digest,
                                 trained, val_curve)
from mmkd.benchmark.stats import mean_and_std, median_ratio, paired_interval

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


def test_paired_interval_by_hand():
    # differences 2, 3, 7: mean 4, sample std sqrt(7), t(0.975, 2) = 4.3027
    mean, low, high = paired_interval([3.0, 4.0, 8.0], [1.0, 1.0, 1.0])
    half = 4.302653 * math.sqrt(7) / math.sqrt(3)
    assert mean == pytest.approx(4.0)
    assert (low, high) == (pytest.approx(4 - half, abs=1e-4),
                           pytest.approx(4 + half, abs=1e-4))
    # the same shift every seed: no spread, a point interval
    assert paired_interval([5.0, 6.0], [4.0, 5.0]) == (1.0, 1.0, 1.0)
    assert paired_interval([5.0], [4.0]) == (1.0, -math.inf, math.inf)
    with pytest.raises(ValueError, match='one of each per seed'):
        paired_interval([1.0, 2.0], [1.0])


def test_median_of_per_round_ratios():
    # ratios 2, 3 (a round where one phase met a slow spell) and 2.2
    assert median_ratio([10.0, 45.0, 11.0], [5.0, 15.0, 5.0]) == \
        pytest.approx(2.2)


def test_val_curve_reads_mmengine_scalars(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scalars = tmp_path / 'run' / '20261126_000000' / 'vis_data'
    scalars.mkdir(parents=True)
    (scalars / 'scalars.json').write_text(
        '{"loss": 1.2, "step": 50}\n{"aAcc": 80.0, "mIoU": 41.5, "step": 100}'
        '\n{"loss": 0.9, "step": 150}\n{"mIoU": 52.25, "step": 200}\n')
    assert val_curve('run', 'mIoU') == [(100, 41.5), (200, 52.25)]
    with pytest.raises(RunError,
                       match='x: no <timestamp>/vis_data/scalars.json'):
        val_curve('x', 'mIoU')


CONFIG = 'mmkd::digitscapes/pspnet_r18w8_digitscapes.py'


def test_settings_digest_sees_options_and_upstream_runs():
    digest = settings_digest(CONFIG)
    assert digest == settings_digest(CONFIG, [])
    assert digest != settings_digest(CONFIG, ['randomness.seed=1'])
    assert digest != settings_digest(CONFIG, upstream=('teacher digest', ))


def test_trained_reuses_the_same_settings_on_as_many_threads(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []

    def fake_train(config, work_dir, options, quiet=False, threads=None):
        calls.append(options)
        checkpoint = tmp_path / work_dir / 'iter_1.pth'
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_text('weights')
        return f'{work_dir}/iter_1.pth', 1.5

    monkeypatch.setattr(runs, 'train', fake_train)
    monkeypatch.setattr(runs, 'settings_digest',
                        lambda config, options, upstream: repr(
                            (options, upstream)))
    first = trained(CONFIG, 'run', ['a=1'])
    assert not first['reused'] and first['checkpoint'] == 'run/iter_1.pth'
    assert first['train_seconds'] == 1.5 and 'a=1' in first['command']
    again = trained(CONFIG, 'run', ['a=1'])
    assert again['reused'] and again['settings'] == first['settings']
    assert calls == [['a=1']]
    trained(CONFIG, 'run', ['a=2'])  # other settings: trained again
    trained(CONFIG, 'run', ['a=2'], upstream=('new teacher', ))
    trained(CONFIG, 'run', ['a=2'], upstream=('new teacher', ), reuse=False)
    assert calls == [['a=1'], ['a=2'], ['a=2'], ['a=2']]
    (tmp_path / 'run' / 'iter_1.pth').unlink()  # checkpoint gone: retrain
    trained(CONFIG, 'run', ['a=2'], upstream=('new teacher', ))
    assert len(calls) == 5
    # The same settings on another thread count: other weights, trained
    # again; the record keeps the count it was trained with.
    one_thread = trained(CONFIG, 'run', ['a=2'], upstream=('new teacher', ),
                         threads=1)
    assert not one_thread['reused'] and one_thread['threads'] == 1
    assert trained(CONFIG, 'run', ['a=2'], upstream=('new teacher', ),
                   threads=1)['reused']
    assert not trained(CONFIG, 'run', ['a=2'],
                       upstream=('new teacher', ))['reused']
    assert len(calls) == 7


def test_write_missing_writes_only_datasets_without_their_last_folder(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = []

    def writer(root):
        written.append(root)
        (tmp_path / root / 'test').mkdir(parents=True)
        return root

    (tmp_path / 'old' / 'val').mkdir(parents=True)  # an older layout
    runs.write_missing((('new', 'test', writer), ('old', 'test', writer)))
    assert written == ['new', 'old']
    runs.write_missing((('new', 'test', writer), ))
    assert len(written) == 2
