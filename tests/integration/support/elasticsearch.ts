// Counting what a bridge wrote to Elasticsearch, for tests that wait for an exact number.
import type { Client } from '@elastic/elasticsearch';

/**
 * Documents in the indices matching `index`, after a refresh; 0 while none exists. A bulk may have
 * just created a daily index whose primary shard is still starting: a count then fails with
 * no_shard_available_action_exception for a moment (seen in CI, under load), so it asks again.
 */
export async function countDocuments(client: Client, index: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
      return (await client.count({ index, ignore_unavailable: true, allow_no_indices: true })).count;
    } catch (error) {
      if (attempt === 40 || !/no_shard_available/.test(String((error as Error).message))) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
