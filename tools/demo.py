"""`make demo`: distillation on DigitScapes, end to end on a CPU.

Builds DigitScapes and the digit patches under data/, pretrains both
backbones, trains the teacher and the student alone, distils the student
with BDD in the form and setting the method benchmark chose on val, tests
the three on the test split and prints their mIoU, with a per-class plot
and a picture of one test image under work_dirs/ (mmkd.benchmark.demo).
Runs that an earlier demo or benchmark trained with the same settings are
reused; --retrain trains everything again.
"""
import argparse

from mmkd.benchmark.demo import run_demo


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--retrain', action='store_true',
                        help='train every run again, reusing none')
    run_demo(reuse=not parser.parse_args().retrain)


if __name__ == '__main__':
    main()
