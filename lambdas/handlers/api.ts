/** Placeholder until its issue lands: present so the CDK app can bundle it. */
export const handler = async (): Promise<never> => {
  throw new Error('api handler not implemented yet');
};
