/**
 * The AWS SDK, loaded on first use. Its client packages cost about a second
 * of start-up and tens of megabytes of memory, and most deployments never
 * call AWS: so nothing in the product imports them statically. AWS actions,
 * the SNS notifier and the Bedrock analyst import their package here when
 * they make their first call. Types come from `import type`, which is
 * erased and costs nothing at run time.
 */

/** The SDK packages the product uses, each with the type of its module. */
export interface AwsSdkModules {
  '@aws-sdk/client-bedrock-runtime': typeof import('@aws-sdk/client-bedrock-runtime');
  '@aws-sdk/client-ec2': typeof import('@aws-sdk/client-ec2');
  '@aws-sdk/client-iam': typeof import('@aws-sdk/client-iam');
  '@aws-sdk/client-secrets-manager': typeof import('@aws-sdk/client-secrets-manager');
  '@aws-sdk/client-sns': typeof import('@aws-sdk/client-sns');
  '@aws-sdk/client-wafv2': typeof import('@aws-sdk/client-wafv2');
  '@aws-sdk/credential-providers': typeof import('@aws-sdk/credential-providers');
}

export type AwsSdkPackage = keyof AwsSdkModules;

/** The module of one SDK package, e.g. `AwsSdk<'@aws-sdk/client-ec2'>`. */
export type AwsSdk<P extends AwsSdkPackage> = AwsSdkModules[P];

/**
 * A function that starts `load` on its first call and gives every later
 * call the same promise; when that promise rejects it is dropped, so the
 * next call starts again.
 *
 * @example const config = once(() => readConfig()); await config(); await config(); // read once
 */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (pending === undefined) {
      const started = load();
      pending = started;
      started.catch(() => {
        if (pending === started) pending = undefined;
      });
    }
    return pending;
  };
}

// One literal import() per package, so that TypeScript checks each name and a bundler can follow it.
const LOADERS: { [P in AwsSdkPackage]: () => Promise<AwsSdkModules[P]> } = {
  '@aws-sdk/client-bedrock-runtime': once(() => import('@aws-sdk/client-bedrock-runtime')),
  '@aws-sdk/client-ec2': once(() => import('@aws-sdk/client-ec2')),
  '@aws-sdk/client-iam': once(() => import('@aws-sdk/client-iam')),
  '@aws-sdk/client-secrets-manager': once(() => import('@aws-sdk/client-secrets-manager')),
  '@aws-sdk/client-sns': once(() => import('@aws-sdk/client-sns')),
  '@aws-sdk/client-wafv2': once(() => import('@aws-sdk/client-wafv2')),
  '@aws-sdk/credential-providers': once(() => import('@aws-sdk/credential-providers')),
};

/**
 * The module of an SDK package, imported on the first call; later calls
 * share that promise. It is the module a static import would give, so
 * `instanceof` on its exception classes and mocks of its client prototypes
 * (aws-sdk-client-mock) work as before. A failed import is not kept, so
 * the next call tries again.
 *
 * @example const { EC2Client, DescribeInstancesCommand } = await loadAwsSdk('@aws-sdk/client-ec2');
 */
export function loadAwsSdk<P extends AwsSdkPackage>(pkg: P): Promise<AwsSdk<P>> {
  return LOADERS[pkg]();
}

/** An SDK module and the one client an owner made from it. */
export interface AwsSdkClient<P extends AwsSdkPackage, C> {
  sdk: AwsSdk<P>;
  client: C;
}

/**
 * A client made on first use: the returned function loads the package and
 * builds the client on its first call, and every later call gets the same
 * module and client (one client per owner: its credential cache and
 * connections are shared by all its calls). A failed load or build is not
 * kept, so the next call tries again.
 *
 * @example
 * const ec2 = lazyAwsClient('@aws-sdk/client-ec2', (sdk) => new sdk.EC2Client({ region }));
 * const { sdk, client } = await ec2();
 * await client.send(new sdk.DescribeInstancesCommand({ InstanceIds: [id] }));
 */
export function lazyAwsClient<P extends AwsSdkPackage, C>(
  pkg: P,
  make: (sdk: AwsSdk<P>) => C | Promise<C>,
): () => Promise<AwsSdkClient<P, C>> {
  return once(async () => {
    const sdk = await loadAwsSdk(pkg);
    return { sdk, client: await make(sdk) };
  });
}
