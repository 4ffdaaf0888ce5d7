/** How a container's death is worded in reasons, and the hint that names its usual cause. */

/** A hint that names the usual cause when the log line is recognisable. */
export function crashHint(line: string | undefined, name: string): string {
  const more = `\`docker logs --tail 50 ${name}\` shows the context.`;
  if (line && /ModuleNotFoundError|No module named|ImportError|Cannot find module|ERR_MODULE_NOT_FOUND/.test(line)) {
    return `The application cannot import a dependency: the package is missing from the image (or the wrong driver is configured). Add it to the requirements, rebuild the image (docker compose build --no-cache) and redeploy. ${more}`;
  }
  if (line && /address already in use|EADDRINUSE|bind.*(?:failed|denied)/i.test(line)) {
    return `The application cannot bind its port: another process holds it (a leftover systemd unit or an old container). Find it with ss -tlnp or a forgewatch port check, stop and disable it. ${more}`;
  }
  if (line && /permission denied|EACCES/i.test(line))
    return `The application hits a permission error at start: check volume ownership and the user the image runs as. ${more}`;
  return `The container exits at start and is restarted again and again: the quoted log line is the likely cause; fix it and redeploy. ${more}`;
}

export function oomHint(name: string): string {
  return `The kernel killed the container for exceeding its memory limit: raise the limit (deploy.resources.limits.memory or --memory) or find what grows (a leak, an unbounded cache, a large query). \`docker stats ${name}\` shows usage.`;
}

export function exitWords(code: number | undefined): string {
  if (code === 137) return 'exited 137 (killed: SIGKILL or out of memory)';
  if (code === 143) return 'exited 143 (stopped by SIGTERM)';
  return `exited ${code ?? '?'}`;
}
