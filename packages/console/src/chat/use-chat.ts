import { useSyncExternalStore } from 'react';
import type { ChatModel, ChatState } from './chat-model.ts';

/** The model's state, re-rendering on each change. */
export function useChat(model: ChatModel): ChatState {
  return useSyncExternalStore(model.subscribe, model.getState);
}
