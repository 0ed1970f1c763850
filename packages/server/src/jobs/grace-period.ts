/** Waits for `work` at most `graceMs`; resolves with whether it ended in time. */
export async function endsWithin(work: Promise<unknown>, graceMs: number): Promise<boolean> {
  if (graceMs === Number.POSITIVE_INFINITY) {
    await work;
    return true;
  }
  let timeout: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([
    work.then(() => true),
    new Promise<boolean>((resolve) => {
      timeout = setTimeout(() => {
        resolve(false);
      }, graceMs);
    }),
  ]);
  clearTimeout(timeout);
  return inTime;
}
