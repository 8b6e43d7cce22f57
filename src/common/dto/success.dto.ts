/** The answer of a change that returns nothing else. */
export class SuccessDto {
  success!: true;
}
