/** Asserts the one error envelope every keymeter error has. */
export function expectEnvelope(body: unknown, statusCode: number): void {
  expect(body).toEqual({
    success: false,
    statusCode,
    error: expect.any(String),
    message: expect.anything(),
  });
}
