import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ChatApp } from './chat-app.tsx';
import '../console.css';
import './chat.css';

const root = document.getElementById('root');
if (root === null) throw new Error('app.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <ChatApp />
  </StrictMode>,
);
