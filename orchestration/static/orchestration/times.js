// Pages with nothing live on them: dates in the reader's own time zone and format.
import { localTimes } from "kit/time";

localTimes(document.querySelector(".orch-app") || document);
