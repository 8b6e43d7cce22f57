import { AppModule } from './app.module';
import { bootstrap } from './bootstrap';

bootstrap(AppModule);
