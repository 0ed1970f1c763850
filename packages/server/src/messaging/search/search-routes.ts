import { searchMessagesQuery, searchMessagesResponse } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import { principalOf } from '../../http/auth-hook.ts';
import type { RouteDeclaration } from '../../http/route-table.ts';
import type { SearchService } from './search-service.ts';
import { type ReadRecorder, recordShownMessages } from '../../compliance/access-log/access-record.ts';

/** Message search over REST. The query string is never logged with its values (see log-scrubber.ts). */
export function searchRoutes(deps: {
  search: SearchService;
  /** Who read what, where the tenant records it (compliance/access-log/). */
  accessLog?: { recorder: ReadRecorder };
}): RouteDeclaration[] {
  return [
    {
      method: 'GET',
      url: '/v1/search/messages',
      operationId: 'searchMessages',
      summary:
        'Whole-word and prefix (`caf*`) search in the caller’s dialogs (or one): ranked, with snippet and highlights.',
      tags: ['search'],
      access: { kind: 'authenticated', scope: 'chat', permission: 'dialogs.read' },
      schema: { querystring: searchMessagesQuery, response: { 200: searchMessagesResponse } },
      handler: async (request) => {
        const principal = principalOf(request);
        if (principal.userId === null)
          throw new AppError('forbidden', 'Search covers a user’s dialogs; API clients have none.');
        const found = await deps.search.search(
          principal.tenantId,
          principal.userId,
          searchMessagesQuery.parse(request.query),
        );
        const shown = found.results.map((result) => ({ dialogId: result.dialogId, seq: result.message.seq }));
        recordShownMessages(deps.accessLog?.recorder, principal, 'search', shown);
        return found;
      },
    },
  ];
}
