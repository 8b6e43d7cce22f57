import { LARGE_ANSWER_POINTS, LargeAnswers, TooManyLargeAnswersException } from './large-answers';

describe(LargeAnswers.name, () => {
  it('admits small answers whatever is in flight', () => {
    const answers = new LargeAnswers(1);
    answers.admit(LARGE_ANSWER_POINTS + 1);

    expect(() => answers.admit(LARGE_ANSWER_POINTS)).not.toThrow();
  });

  it('refuses a large answer past the limit, with Retry-After, until one is done', () => {
    const answers = new LargeAnswers(2);
    const first = answers.admit(132_480);
    answers.admit(132_480);

    let refusal: unknown;
    try {
      answers.admit(132_480);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(TooManyLargeAnswersException);
    expect((refusal as TooManyLargeAnswersException).getStatus()).toBe(503);
    expect((refusal as TooManyLargeAnswersException).retryAfterSeconds).toBe(1);

    first();
    first();
    expect(() => answers.admit(132_480)).not.toThrow();
    expect(() => answers.admit(132_480)).toThrow(TooManyLargeAnswersException);
  });
});
