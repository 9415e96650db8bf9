//! The simulated switch (FreeSWITCH over ESL), for tests and for trying
//! dialpop without a PBX.
