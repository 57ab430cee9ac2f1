// asl-validator 4 ships no type declarations.
declare module 'asl-validator' {
  interface AslValidatorResult {
    isValid: boolean;
    errors: { 'Error code': string; Message: string }[];
    errorsText(separator?: string): string;
  }
  function aslValidator(
    definition: unknown,
    opts?: { checkPaths?: boolean; checkArn?: boolean },
  ): AslValidatorResult;
  export = aslValidator;
}
