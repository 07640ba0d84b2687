#pragma once
// A node's trainers share one start of the ML runtime. Loading Debian's libtorch costs each
// process about a second of CPU before main() (288 shared libraries mapped and relocated, then
// operator registration), the largest part of a silo's start-up on a small machine. So the
// launcher starts only the node's first trainer, which forks the others first thing in main(),
// while it has one thread and has read nothing: each fork is a trainer with the same libraries
// already loaded. The forked trainers are handed over to the launcher (a child subreaper), which
// watches, signals and reaps them like trainers it started itself (launcher.cpp).
//
// Protocol, by environment (silo_role.h): the launcher sets FEDSILO_FORK_SIBLINGS (how many) and
// FEDSILO_FORK_REPORT_FD (a pipe's write end). For each sibling the first trainer forks twice
// (the middle process exits, so the launcher adopts the trainer), and the trainer writes
// "<local rank> <pid>\n" to the pipe once it is the launcher's. A sibling that is not reported
// before the pipe closes (a process with threads cannot fork safely; fork can fail) is started
// by the launcher the ordinary way, so forking is only ever faster, never required.
namespace fedsilo::silo {

// Called first thing in fedsilo::init(). Without the launcher's variables it does nothing. In
// the first trainer it forks the siblings and returns in each of them, with FEDSILO_SILO_RANK and
// FEDSILO_LOCAL_RANK set to the sibling's own ranks.
void fork_sibling_trainers();

}  // namespace fedsilo::silo
